-- WatchLLM proxy schema: plans and their limits, projects, hashed API keys, encrypted provider
-- keys, and usage logs. Row-level security is on everywhere with no policies for anon, so only the
-- service role (the proxy, the dashboard's server side) can read or write.

create extension if not exists pgcrypto;

create table if not exists plans (
  name text primary key,
  requests_per_minute integer not null check (requests_per_minute > 0),
  monthly_requests integer not null check (monthly_requests > 0),
  price_usd_month numeric(10, 2) not null default 0
);

insert into plans (name, requests_per_minute, monthly_requests, price_usd_month) values
  ('free', 60, 10000, 0),
  ('starter', 600, 250000, 29),
  ('pro', 3000, 2000000, 99),
  -- applied to every lgw_test_ key, whatever its project's plan
  ('sandbox', 30, 5000, 0)
on conflict (name) do nothing;

create table if not exists projects (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid,
  name text not null check (length(name) between 1 and 100),
  plan text not null default 'free' references plans (name),
  semantic_cache_enabled boolean not null default true,
  similarity_threshold real not null default 0.95 check (similarity_threshold > 0 and similarity_threshold <= 1),
  cache_ttl_secs integer not null default 3600 check (cache_ttl_secs > 0),
  created_at timestamptz not null default now()
);

create table if not exists api_keys (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects (id) on delete cascade,
  -- SHA-256 hex of the whole key; the key itself is shown once and never stored
  key_hash text not null unique check (key_hash ~ '^[0-9a-f]{64}$'),
  key_prefix text not null,
  kind text not null check (kind in ('live', 'test')),
  name text,
  revoked boolean not null default false,
  created_at timestamptz not null default now(),
  revoked_at timestamptz
);
create index if not exists api_keys_project_idx on api_keys (project_id);

create table if not exists provider_keys (
  project_id uuid not null references projects (id) on delete cascade,
  provider text not null check (provider in ('openai', 'anthropic', 'groq', 'openrouter')),
  -- AES-256-GCM, 'v1:' || base64(nonce || ciphertext || tag); see src/secrets.rs
  encrypted_key text not null check (encrypted_key like 'v1:%'),
  key_hint text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (project_id, provider)
);

create table if not exists usage_logs (
  id bigint generated always as identity primary key,
  request_id text not null,
  project_id uuid not null references projects (id) on delete cascade,
  api_key_id uuid references api_keys (id) on delete set null,
  key_kind text,
  endpoint text not null,
  model text not null default '',
  provider text not null default '',
  cache_status text not null check (cache_status in ('HIT', 'HIT-SEMANTIC', 'MISS')),
  status_code integer not null,
  prompt_tokens integer not null default 0,
  completion_tokens integer not null default 0,
  cost_usd numeric(14, 8),
  cost_saved_usd numeric(14, 8) not null default 0,
  tokens_saved integer not null default 0,
  latency_ms integer not null default 0,
  similarity real,
  error_code text,
  created_at timestamptz not null default now()
);
create index if not exists usage_logs_project_time_idx on usage_logs (project_id, created_at desc);

-- One row per key with everything the proxy needs to authorise and route a request.
create or replace view api_key_lookup as
select
  k.id as key_id,
  k.key_hash,
  k.kind as key_kind,
  k.revoked,
  k.project_id,
  p.plan,
  case when k.kind = 'test' then sandbox.requests_per_minute else pl.requests_per_minute end as requests_per_minute,
  (select jsonb_object_agg(pk.provider, pk.encrypted_key) from provider_keys pk where pk.project_id = p.id) as provider_keys
from api_keys k
join projects p on p.id = k.project_id
join plans pl on pl.name = p.plan
cross join (select requests_per_minute from plans where name = 'sandbox') sandbox;

alter table plans enable row level security;
alter table projects enable row level security;
alter table api_keys enable row level security;
alter table provider_keys enable row level security;
alter table usage_logs enable row level security;

revoke all on plans, projects, api_keys, provider_keys, usage_logs, api_key_lookup from anon, authenticated;
grant all on plans, projects, api_keys, provider_keys, usage_logs to service_role;
grant select on api_key_lookup to service_role;
grant usage, select on all sequences in schema public to service_role;
