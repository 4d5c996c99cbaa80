-- The api's own state (ADR 0006): what Heroku sends once and must not be lost, and the SSO sessions.

-- Each resource's Platform API tokens, sealed with AES-256-GCM: a database dump alone opens no customer app.
CREATE TABLE resource_oauth_tokens (
  resource_id  uuid PRIMARY KEY,
  sealed       text NOT NULL,
  expires_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The exact answer given to a provision request, so a repeat of the same uuid answers the same.
CREATE TABLE provision_answers (
  resource_id  uuid PRIMARY KEY,
  status       int NOT NULL,
  body         jsonb NOT NULL,
  answered_at  timestamptz NOT NULL DEFAULT now()
);

-- Platform API work to do after answering Heroku: finish an async provision, or sync a sync one's access list.
-- The grant code (sealed) lives here until exchanged, so a restart inside its 5 minutes loses nothing.
CREATE TABLE platform_jobs (
  resource_id      uuid PRIMARY KEY,
  kind             text NOT NULL CHECK (kind IN ('async_provision', 'access_sync')),
  grant_sealed     text,
  attempts         int NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX platform_jobs_due_idx ON platform_jobs (next_attempt_at);

-- Customer dashboard sessions opened by Heroku SSO; only a hash of the cookie value is stored.
CREATE TABLE dashboard_sessions (
  token_hash      text PRIMARY KEY,
  resource_id     uuid NOT NULL,
  email           text NOT NULL,
  email_verified  boolean NOT NULL,
  user_id         text,
  created_at      timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL
);
CREATE INDEX dashboard_sessions_expiry_idx ON dashboard_sessions (expires_at);
