-- Upstream calls per request (0 when the cache answered, 2 after a retry), for provider reliability
-- charts and for reconciling provider bills.
alter table usage_logs add column if not exists upstream_attempts smallint not null default 0;
