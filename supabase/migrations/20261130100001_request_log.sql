-- Dashboard request log and latency report.
-- request_log: a project's requests newest first, filtered (time range, cache status, model, key,
-- status class), one page at a time by keyset: the caller passes the (created_at, id) of the last
-- row it has, so a page costs the same on the first page and the thousandth (OFFSET would read and
-- discard every earlier row). It walks usage_logs_project_time_id_idx backwards.
-- latency_daily: p50 and p95 latency per UTC day and cache outcome.

-- (project_id, created_at, id) serves the range scans of the reports as well, so it replaces
-- the (project_id, created_at) index rather than adding a second one to every insert.
create index if not exists usage_logs_project_time_id_idx on usage_logs (project_id, created_at, id);
drop index if exists usage_logs_project_time_idx;

create or replace function request_log(
  p_project uuid,
  p_from timestamptz,
  p_to timestamptz,
  p_cache text default null,
  p_model text default null,
  p_key uuid default null,
  p_status_class integer default null,
  p_before_at timestamptz default null,
  p_before_id bigint default null,
  p_limit integer default 50)
returns table (
  id bigint,
  created_at timestamptz,
  request_id text,
  api_key_id uuid,
  key_prefix text,
  endpoint text,
  model text,
  provider text,
  cache_status text,
  similarity real,
  latency_ms integer,
  prompt_tokens integer,
  completion_tokens integer,
  cost_usd numeric,
  cost_saved_usd numeric,
  status_code integer,
  error_code text
)
language sql stable
as $$
  select u.id, u.created_at, u.request_id, u.api_key_id, k.key_prefix, u.endpoint, u.model,
    u.provider, u.cache_status, u.similarity, u.latency_ms, u.prompt_tokens, u.completion_tokens,
    u.cost_usd, u.cost_saved_usd, u.status_code, u.error_code
  from usage_logs u
  left join api_keys k on k.id = u.api_key_id
  where u.project_id = p_project
    and u.created_at >= p_from
    and u.created_at < p_to
    -- No "p_before_at is null or ...": the row comparison must stay an index condition even when
    -- the arguments arrive as expressions (PostgREST), so the first page compares with infinity.
    and (u.created_at, u.id) < (coalesce(p_before_at, 'infinity'::timestamptz), coalesce(p_before_id, 9223372036854775807))
    and (p_cache is null or u.cache_status = p_cache)
    and (p_model is null or u.model = p_model)
    and (p_key is null or u.api_key_id = p_key)
    and (p_status_class is null or u.status_code between p_status_class * 100 and p_status_class * 100 + 99)
  order by u.created_at desc, u.id desc
  limit least(greatest(coalesce(p_limit, 50), 1), 1000)
$$;

create or replace function latency_daily(p_project uuid, p_from date, p_to date, p_model text default null)
returns table (day date, cache_status text, requests bigint, p50_ms double precision, p95_ms double precision)
language sql stable
as $$
  select
    (u.created_at at time zone 'utc')::date as day,
    u.cache_status,
    count(*) as requests,
    percentile_cont(0.5) within group (order by u.latency_ms) as p50_ms,
    percentile_cont(0.95) within group (order by u.latency_ms) as p95_ms
  from usage_logs u
  where u.project_id = p_project
    and u.created_at >= p_from::timestamp at time zone 'utc'
    and u.created_at < (p_to + 1)::timestamp at time zone 'utc'
    and (p_model is null or u.model = p_model)
  group by 1, 2
  order by 1, 2
$$;

revoke all on function request_log(uuid, timestamptz, timestamptz, text, text, uuid, integer, timestamptz, bigint, integer) from public, anon, authenticated;
revoke all on function latency_daily(uuid, date, date, text) from public, anon, authenticated;
grant execute on function request_log(uuid, timestamptz, timestamptz, text, text, uuid, integer, timestamptz, bigint, integer) to service_role;
grant execute on function latency_daily(uuid, date, date, text) to service_role;
