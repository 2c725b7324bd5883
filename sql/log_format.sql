--
-- log_format: insider_guard.log_format, the form of insider_guard's lines
-- in the server log, text or json (test/t/028_json_events.pl reads the
-- lines).  A superuser's setting: a watched role can change it in no
-- way, not even for its own session -- the lines report it.
--

-- the setting: an enum, text unless configured, for superusers only
SELECT vartype, boot_val, enumvals, context FROM pg_settings
WHERE name = 'insider_guard.log_format';
SET insider_guard.log_format = xml;

-- a watched role can neither SET it, nor through set_config, nor in a
-- transaction, nor make it a default of its own or a function's
SET SESSION AUTHORIZATION alice;
SET insider_guard.log_format = json;
SET insider_guard.log_format = text;
SELECT set_config('insider_guard.log_format', 'json', false);
BEGIN;
SET LOCAL insider_guard.log_format = json;
ROLLBACK;
ALTER ROLE alice SET insider_guard.log_format = json;
RESET insider_guard.log_format;
CREATE FUNCTION pg_temp.quiet() RETURNS int LANGUAGE sql
SET insider_guard.log_format = json AS 'SELECT 1';
SHOW insider_guard.log_format;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS alice_defaults FROM pg_db_role_setting
WHERE setrole = 'alice'::regrole;

-- a superuser can, for the session, and as a role's default
SET insider_guard.log_format = json;
SHOW insider_guard.log_format;
RESET insider_guard.log_format;
SHOW insider_guard.log_format;
ALTER ROLE bob SET insider_guard.log_format = json;
SELECT setconfig FROM pg_db_role_setting WHERE setrole = 'bob'::regrole;
ALTER ROLE bob RESET insider_guard.log_format;
