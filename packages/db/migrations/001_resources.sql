-- The plan catalog as loaded (each version kept, so an alert can say which catalog judged it),
-- and the add-on resources with their history. The api writes resources; every service reads them.
CREATE TABLE plan_catalogs (
  version     text PRIMARY KEY,
  source      text NOT NULL,
  content     jsonb NOT NULL,
  loaded_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE plans (
  name            text PRIMARY KEY,
  rank            int NOT NULL,
  limits          jsonb NOT NULL,
  thresholds      int[] NOT NULL,
  pace            jsonb NOT NULL,
  over_limit      text NOT NULL,
  hidden          boolean NOT NULL DEFAULT false,
  catalog_version text NOT NULL REFERENCES plan_catalogs(version)
);

CREATE TABLE resources (
  id                uuid PRIMARY KEY,
  plan              text NOT NULL,
  state             text NOT NULL CHECK (state IN ('provisioning', 'provisioned', 'deprovisioned', 'refused')),
  name              text,
  app_id            text,
  app_name          text,
  owner_id          text,
  owner_email       text,
  region            text,
  callback_url      text,
  options           jsonb NOT NULL DEFAULT '{}',
  created_at        timestamptz NOT NULL DEFAULT now(),
  provisioned_at    timestamptz,
  deprovisioned_at  timestamptz,
  plan_changed_at   timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX resources_app_idx ON resources (app_id);
CREATE INDEX resources_owner_idx ON resources (owner_id);

-- Every provision, plan change, refusal and deprovision, kept for the refusal policy and audit.
CREATE TABLE resource_events (
  id           bigserial PRIMARY KEY,
  resource_id  uuid NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('provision', 'plan_change', 'plan_change_refused', 'provision_refused', 'deprovision')),
  from_plan    text,
  to_plan      text,
  detail       jsonb NOT NULL DEFAULT '{}',
  at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX resource_events_resource_idx ON resource_events (resource_id, at);

-- Services cache resources; a change is announced on this channel so caches refresh at once.
CREATE FUNCTION notify_resource_changed() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('meterline_resource_changed', current_schema() || ':' || NEW.id::text);
  RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER resources_changed AFTER INSERT OR UPDATE ON resources
  FOR EACH ROW EXECUTE FUNCTION notify_resource_changed();
