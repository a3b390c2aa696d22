-- The hub (dataplane-hub) reconciles kicks it may have missed: DELETE of a data plane is
-- recorded in audit_log (action 'dataplane.disconnect', subject = the data plane's id) before
-- dataplane.disconnect is published, and the hub re-reads recent entries after a reconnect and
-- once per heartbeat interval. This index keeps that read to the recent entries of one action.
CREATE INDEX audit_log_action_at ON audit_log (action, at);
