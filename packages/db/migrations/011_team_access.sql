-- Team access (ADR 0014): the provider's people sign in to the console with an account; company users
-- hold company-wide permissions; partner employees see the clients assigned to them once the client
-- has granted it too. Every grant, revoke, assignment, secret view and sign-in is audited.

-- A person who can sign in. An account alone grants nothing: a company user adds it, or a partner
-- employee's record points at it. The email is stored lower-cased.
CREATE TABLE accounts (
  id             bigserial PRIMARY KEY,
  email          text NOT NULL UNIQUE CHECK (email = lower(email)),
  name           text NOT NULL,
  -- scrypt (ADR 0014); NULL: no password set yet, sign-in refused.
  password_hash  text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  disabled_at    timestamptz
);

-- The provider's own staff with company-wide permissions (Heroku's "company users").
CREATE TABLE company_users (
  account_id         bigint PRIMARY KEY REFERENCES accounts (id),
  super_admin        boolean NOT NULL DEFAULT false,
  permissions        text[] NOT NULL DEFAULT '{}',
  -- gets CRITICAL alerts by email (the notifier)
  alerts_subscribed  boolean NOT NULL DEFAULT false,
  added_by           bigint REFERENCES accounts (id),
  added_at           timestamptz NOT NULL DEFAULT now(),
  removed_at         timestamptz
);

-- Partner firms working for the provider's clients (HubSpot's partner accounts), and their employees.
CREATE TABLE partners (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE partner_employees (
  partner_id  bigint NOT NULL REFERENCES partners (id),
  account_id  bigint NOT NULL REFERENCES accounts (id),
  added_by    bigint REFERENCES accounts (id),
  added_at    timestamptz NOT NULL DEFAULT now(),
  removed_at  timestamptz,
  PRIMARY KEY (partner_id, account_id)
);

-- The partner half of a partner employee's access to a client (a customer organisation: the owner of
-- resources, `resources.owner_id`). One email is connected to one partner record per client.
CREATE TABLE client_assignments (
  id           bigserial PRIMARY KEY,
  client_id    text NOT NULL,
  partner_id   bigint NOT NULL REFERENCES partners (id),
  account_id   bigint NOT NULL REFERENCES accounts (id),
  email        text NOT NULL,
  assigned_by  bigint REFERENCES accounts (id),
  assigned_at  timestamptz NOT NULL DEFAULT now(),
  removed_by   bigint REFERENCES accounts (id),
  removed_at   timestamptz
);
CREATE UNIQUE INDEX client_assignments_one_record_idx ON client_assignments (client_id, email) WHERE removed_at IS NULL;
CREATE INDEX client_assignments_account_idx ON client_assignments (account_id) WHERE removed_at IS NULL;

-- The client half: the client's owner or admin allowed this email into the client's own space (from the
-- customer dashboard). Access needs both halves.
CREATE TABLE client_grants (
  client_id   text NOT NULL,
  email       text NOT NULL,
  granted_by  text NOT NULL,
  granted_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz,
  PRIMARY KEY (client_id, email)
);

-- Hidden- and test-plan resources and the company user who installed them: revoking the person never
-- deprovisions them, the console lists them as orphaned.
CREATE TABLE hidden_plan_installs (
  resource_id   uuid PRIMARY KEY,
  plan          text NOT NULL,
  account_id    bigint NOT NULL REFERENCES accounts (id),
  installed_at  timestamptz NOT NULL DEFAULT now()
);

-- Console sessions; only a hash of the cookie value is stored. Checked on every request, so a logout or
-- a revocation takes effect at once.
CREATE TABLE console_sessions (
  token_hash  text PRIMARY KEY,
  account_id  bigint NOT NULL REFERENCES accounts (id),
  -- the session's CSRF token: every state-changing form carries it
  csrf        text NOT NULL,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  revoked_at  timestamptz,
  ip          text,
  user_agent  text
);
CREATE INDEX console_sessions_account_idx ON console_sessions (account_id);

-- The customer dashboard's forms (a client's grant to a partner employee) carry their session's CSRF token too.
ALTER TABLE dashboard_sessions ADD COLUMN csrf text NOT NULL DEFAULT md5(random()::text || clock_timestamp()::text);

-- Machine credentials for the JSON API: scoped, hashed, revocable.
CREATE TABLE api_keys (
  id            bigserial PRIMARY KEY,
  name          text NOT NULL,
  key_hash      text NOT NULL UNIQUE,
  scopes        text[] NOT NULL,
  created_by    bigint REFERENCES accounts (id),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);

-- Who did what, when, from where.
CREATE TABLE audit_log (
  id           bigserial PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  actor_id     bigint REFERENCES accounts (id),
  actor_email  text,
  action       text NOT NULL,
  target       text,
  detail       jsonb NOT NULL DEFAULT '{}',
  ip           text
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);

-- staff_users becomes accounts with company-user or partner-employee records (no password: each sets one).
INSERT INTO accounts (email, name, created_at)
  SELECT lower(email), coalesce(name, email), created_at FROM staff_users ON CONFLICT (email) DO NOTHING;
INSERT INTO company_users (account_id, permissions, alerts_subscribed, added_at, removed_at)
  SELECT a.id, ARRAY['support'], s.subscribed, s.created_at, s.removed_at
  FROM staff_users s JOIN accounts a ON a.email = lower(s.email) WHERE s.kind = 'company';
INSERT INTO partners (name)
  SELECT DISTINCT coalesce(partner, 'Partners') FROM staff_users WHERE kind = 'partner';
INSERT INTO partner_employees (partner_id, account_id, added_at, removed_at)
  SELECT p.id, a.id, s.created_at, s.removed_at
  FROM staff_users s JOIN accounts a ON a.email = lower(s.email)
  JOIN partners p ON p.name = coalesce(s.partner, 'Partners') WHERE s.kind = 'partner';
DROP TABLE staff_users;
