-- Cache controls (#18): a project may set the lowest similarity threshold a request may ask for,
-- and require every request to name a cache namespace (X-WatchLLM-Cache-Namespace); each plan
-- bounds how long a request may ask an answer to be kept (Cache-Control: s-maxage,
-- X-WatchLLM-Cache-TTL).

alter table projects add column if not exists similarity_threshold_floor real
  check (similarity_threshold_floor is null or (similarity_threshold_floor > 0 and similarity_threshold_floor <= 1));
alter table projects add column if not exists require_cache_namespace boolean not null default false;

alter table plans add column if not exists max_cache_ttl_secs integer not null default 86400
  check (max_cache_ttl_secs > 0);
update plans set max_cache_ttl_secs = case name
  when 'free' then 86400
  when 'starter' then 604800
  when 'pro' then 2592000
  when 'sandbox' then 3600
  else max_cache_ttl_secs end;

create or replace view api_key_lookup as
select
  k.id as key_id,
  k.key_hash,
  k.kind as key_kind,
  k.revoked,
  k.project_id,
  p.plan,
  case when k.kind = 'test' then sandbox.requests_per_minute else pl.requests_per_minute end as requests_per_minute,
  (select jsonb_object_agg(pk.provider, pk.encrypted_key) from provider_keys pk where pk.project_id = p.id) as provider_keys,
  p.semantic_cache_enabled,
  p.similarity_threshold,
  p.cache_ttl_secs,
  p.semantic_embedder,
  case when k.kind = 'test' then 'sandbox' else p.plan end as quota_plan,
  case when k.kind = 'test' then sandbox.monthly_requests else pl.monthly_requests end as monthly_requests,
  p.allowed_origins,
  p.similarity_threshold_floor,
  p.require_cache_namespace,
  case when k.kind = 'test' then sandbox.max_cache_ttl_secs else pl.max_cache_ttl_secs end as max_cache_ttl_secs
from api_keys k
join projects p on p.id = k.project_id
join plans pl on pl.name = p.plan
cross join (select requests_per_minute, monthly_requests, max_cache_ttl_secs from plans where name = 'sandbox') sandbox;

revoke all on api_key_lookup from anon, authenticated;
grant select on api_key_lookup to service_role;
