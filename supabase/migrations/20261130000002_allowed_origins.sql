-- Browser clients: a project may restrict the web origins its keys work from (null or empty:
-- any origin). The proxy enforces it (403 origin_not_allowed) once the key is known.

alter table projects add column if not exists allowed_origins text[];

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
  p.allowed_origins
from api_keys k
join projects p on p.id = k.project_id
join plans pl on pl.name = p.plan
cross join (select requests_per_minute, monthly_requests from plans where name = 'sandbox') sandbox;

revoke all on api_key_lookup from anon, authenticated;
grant select on api_key_lookup to service_role;
