-- The notifier also tells customers why the provider disabled their add-on (ADR 0016): such deprovisions
-- carry who and why in their detail, and this index finds them as 010's finds refused provisions.
CREATE INDEX resource_events_disabled_idx ON resource_events (at)
  WHERE kind = 'deprovision' AND detail ? 'disabledBy';
