-- The proxy reads each project's semantic-cache settings with its key.
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
  p.cache_ttl_secs
from api_keys k
join projects p on p.id = k.project_id
join plans pl on pl.name = p.plan
cross join (select requests_per_minute from plans where name = 'sandbox') sandbox;

revoke all on api_key_lookup from anon, authenticated;
grant select on api_key_lookup to service_role;
