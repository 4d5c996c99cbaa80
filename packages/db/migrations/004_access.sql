-- The user access list of each resource (owner, collaborators, team members with their roles),
-- synced from the Platform API by the api; the notifier picks recipients from it.
CREATE TABLE resource_access (
  resource_id  uuid NOT NULL,
  email        text NOT NULL,
  user_id      text,
  name         text,
  role         text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'collaborator', 'viewer')),
  synced_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (resource_id, email)
);
CREATE TABLE resource_access_sync (
  resource_id  uuid PRIMARY KEY,
  synced_at    timestamptz NOT NULL,
  last_error   text
);

-- Contacts the provider adds per resource: they receive every alert.
CREATE TABLE resource_contacts (
  resource_id  uuid NOT NULL,
  email        text NOT NULL,
  name         text,
  added_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (resource_id, email)
);

-- The provider's own people (partner-portal model): company users with company-wide permissions,
-- partner employees assigned to specific client accounts. Subscribed company users get CRITICAL alerts.
CREATE TABLE staff_users (
  email             text PRIMARY KEY,
  name              text,
  kind              text NOT NULL CHECK (kind IN ('company', 'partner')),
  partner           text,
  subscribed        boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  removed_at        timestamptz
);
