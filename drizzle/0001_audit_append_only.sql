-- The audit log is append-only: the database itself refuses to change or remove an event,
-- whatever the application does. (A superuser can still disable the trigger; verifyChain() is
-- what detects such an edit afterwards.)
CREATE FUNCTION session_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'session_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER session_events_no_update_delete
  BEFORE UPDATE OR DELETE ON session_events
  FOR EACH ROW EXECUTE FUNCTION session_events_refuse_change();
--> statement-breakpoint
CREATE TRIGGER session_events_no_truncate
  BEFORE TRUNCATE ON session_events
  FOR EACH STATEMENT EXECUTE FUNCTION session_events_refuse_change();
