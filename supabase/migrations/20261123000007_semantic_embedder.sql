-- Per-project choice of semantic-cache embedder: 'local' (in the Worker: no network call, no cost)
-- or 'openai' (OpenAI's /v1/embeddings with the project's own OpenAI key: catches paraphrases that
-- change the vocabulary, at the price of a call on every request the exact cache does not answer).
alter table projects add column if not exists semantic_embedder text not null default 'local'
  check (semantic_embedder in ('local', 'openai'));

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
  p.semantic_embedder
from api_keys k
join projects p on p.id = k.project_id
join plans pl on pl.name = p.plan
cross join (select requests_per_minute from plans where name = 'sandbox') sandbox;

revoke all on api_key_lookup from anon, authenticated;
grant select on api_key_lookup to service_role;
