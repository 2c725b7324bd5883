-- insider_guard: what the monitoring role of postgres_exporter.yaml needs,
-- in each database whose insider_guard it watches.  As a superuser:
--
--     psql -d shop -v monitor=prometheus -f monitoring/grants.sql
--
-- (monitor: the exporter's login role, which must exist; "prometheus" if
-- not given).  PUBLIC has nothing on insider_guard's views and tables but
-- USAGE on the schema, and the functions behind the views check SELECT on
-- the view itself: a column grant is not enough.  SELECT on violations
-- lets the role read the records' query texts and client addresses too.
-- Nothing else is granted: no EXECUTE, no rules to change.
\if :{?monitor}
\else
\set monitor prometheus
\endif
GRANT SELECT ON insider_guard.info,
                insider_guard.role_activity,
                insider_guard.violations,
                insider_guard.baselines,
                insider_guard.thresholds
   TO :"monitor";
