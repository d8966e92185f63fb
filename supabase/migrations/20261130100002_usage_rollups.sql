-- Usage analytics that stay fast as the logs grow: rollups kept as logs arrive, monthly partitions
-- of usage_logs, and retention by dropping whole partitions.
--
-- usage_rollups: per project, UTC day, model, key and cache outcome: requests, errors, tokens,
--   tokens saved, cost and cost saved.
-- usage_rollups_model: per project, day and model, plus model '*' for all models together: the
--   same figures with the cache outcomes as columns, and one latency histogram per outcome (72
--   fixed log-scale buckets, four per doubling: bucket 0 is under 1 ms, bucket b >= 1 holds
--   [2^((b-1)/4), 2^(b/4)) ms, the last one everything from about 3 minutes), from which p50/p95
--   are read to within about 9% (stored once a day has ended, computed on read for today). The
--   charts read this table only: a day of the all-models chart is one row, nothing is merged at
--   read time. No view shows latency per key, so the per-key rows carry no histogram: writing
--   histograms costs the log insert more than all the counters together.
-- usage_monthly: per project and UTC calendar month, the requests the proxy counted against the
--   plan (live keys' billable rows, cache hits included; see 20261130000001_monthly_quotas.sql):
--   the figure plan_usage, the usage alerts and the proxy's monthly quota agree on, one row.
-- All three are written by a statement-level trigger with a transition table, in the same
-- transaction as the log batch, so charts and rows never disagree and the proxy's bulk insert is
-- unchanged. Concurrent batches upsert the same rows with additive updates (rows locked in key
-- order, so two batches cannot deadlock), so no count is lost.
--
-- usage_logs becomes partitioned by month (usage_logs_YYYY_MM, UTC bounds). The dashboard's cron
-- calls usage_upkeep(): it creates the next months ahead and drops the partitions
-- that lie wholly before the longest plan retention (plans.retention_days), never deleting rows.
-- Shorter plan retentions apply to what the dashboard shows (request_log hides rows older than
-- the project's plan allows); the rows themselves go with their month's partition.

alter table plans add column if not exists retention_days integer not null default 30 check (retention_days > 0);
update plans set retention_days = case name when 'free' then 30 when 'sandbox' then 30 when 'starter' then 90 when 'pro' then 365 else retention_days end;

-- Latency histograms ---------------------------------------------------------------------------

create or replace function latency_bucket(ms integer)
returns integer language sql immutable parallel safe
as $$
  select case when ms < 1 then 0 else least(floor(4 * ln(ms) / ln(2) + 1e-9)::integer + 1, 71) end
$$;

-- Histograms are integer[72]. Built and merged by PL/pgSQL loops over the array, which modify it
-- in place: as SQL over unnest() they cost a query per call, and the trigger calls them per group.
create or replace function hist_count(state integer[], bucket integer)
returns integer[] language plpgsql immutable parallel safe
as $$
begin
  state[bucket + 1] := state[bucket + 1] + 1;
  return state;
end
$$;

drop aggregate if exists latency_hist(integer);
create aggregate latency_hist(integer) (sfunc = hist_count, stype = integer[], initcond = '{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}', parallel = safe);

-- a + b, where b holds n values (n = 0: a itself). When b's values all lie in one bucket (a group of
-- one log row, the usual case when a batch's rows fall into many rollups), that bucket is found by
-- array_position and only it changes; otherwise the loop stops after b's last nonzero bucket.
create or replace function hist_add(a integer[], b integer[], n bigint)
returns integer[] language plpgsql immutable strict parallel safe
as $$
declare
  p integer;
  rest bigint := n;
begin
  if n = 0 then
    return a;
  end if;
  p := array_position(b, n::integer);
  if p is not null then
    a[p] := a[p] + n;
    return a;
  end if;
  for i in 1 .. 72 loop
    if b[i] <> 0 then
      a[i] := a[i] + b[i];
      rest := rest - b[i];
      exit when rest = 0;
    end if;
  end loop;
  return a;
end
$$;

-- p50 and p95 of a histogram holding `total` values: each the geometric middle of the bucket that
-- holds it. One pass that stops at the p95 bucket, no query.
create or replace function hist_p50_p95(h integer[], total bigint)
returns double precision[] language plpgsql immutable strict parallel safe
as $$
declare
  r50 bigint := ceil(0.5 * total);
  r95 bigint := ceil(0.95 * total);
  cum bigint := 0;
  b50 integer;
begin
  if total <= 0 then
    return null;
  end if;
  for i in 1 .. 72 loop
    cum := cum + h[i];
    if b50 is null and cum >= r50 then
      b50 := i;
    end if;
    if cum >= r95 then
      return array[
        case when b50 = 1 then 0.5 else power(2, (b50 - 1.5) / 4.0) end,
        case when i = 1 then 0.5 else power(2, (i - 1.5) / 4.0) end];
    end if;
  end loop;
  return null;
end
$$;

-- Rollups ----------------------------------------------------------------------------------------

create table if not exists usage_rollups (
  project_id uuid not null references projects (id) on delete cascade,
  day date not null,
  model text not null,
  -- the nil UUID for requests without a key
  api_key_id uuid not null,
  cache_status text not null,
  requests bigint not null,
  errors bigint not null,
  prompt_tokens bigint not null,
  completion_tokens bigint not null,
  tokens_saved bigint not null,
  cost_usd numeric not null,
  cost_saved_usd numeric not null,
  primary key (project_id, day, model, api_key_id, cache_status)
) with (fillfactor = 70);

create table if not exists usage_rollups_model (
  project_id uuid not null references projects (id) on delete cascade,
  day date not null,
  -- a model, or '*' for all of the project's models together
  model text not null,
  requests bigint not null,
  hits bigint not null,
  semantic_hits bigint not null,
  misses bigint not null,
  errors bigint not null,
  prompt_tokens bigint not null,
  completion_tokens bigint not null,
  tokens_saved bigint not null,
  cost_usd numeric not null,
  cost_saved_usd numeric not null,
  latency_hit integer[] not null,
  latency_semantic integer[] not null,
  latency_miss integer[] not null,
  -- p50 and p95 of HIT, HIT-SEMANTIC and MISS once the day has ended (usage_upkeep); null while
  -- the day is open
  percentiles double precision[],
  primary key (project_id, day, model)
) with (fillfactor = 70);
-- The rows whose day is still open (or reopened by a late batch): what usage_upkeep closes. An
-- open row's updates keep percentiles null, so they stay HOT.
create index if not exists usage_rollups_model_open_idx on usage_rollups_model (day) where percentiles is null;

create table if not exists usage_monthly (
  project_id uuid not null references projects (id) on delete cascade,
  month date not null,
  requests bigint not null,
  primary key (project_id, month)
) with (fillfactor = 70);

alter table usage_rollups enable row level security;
alter table usage_rollups_model enable row level security;
alter table usage_monthly enable row level security;
revoke all on usage_rollups, usage_rollups_model, usage_monthly from anon, authenticated;
grant select on usage_rollups, usage_rollups_model, usage_monthly to service_role;

-- Adds a batch of log rows (the transition table `new_rows`) to the rollups.
create or replace function usage_rollup_batch()
returns trigger language plpgsql security definer set search_path = public
as $$
begin
  insert into usage_rollups as r (project_id, day, model, api_key_id, cache_status, requests, errors,
    prompt_tokens, completion_tokens, tokens_saved, cost_usd, cost_saved_usd)
  select n.project_id, (n.created_at at time zone 'utc')::date, n.model,
    coalesce(n.api_key_id, '00000000-0000-0000-0000-000000000000'), n.cache_status,
    count(*), count(*) filter (where n.status_code >= 400),
    coalesce(sum(n.prompt_tokens), 0), coalesce(sum(n.completion_tokens), 0), coalesce(sum(n.tokens_saved), 0),
    coalesce(sum(n.cost_usd), 0), coalesce(sum(n.cost_saved_usd), 0)
  from new_rows n
  group by 1, 2, 3, 4, 5
  order by 1, 2, 3, 4, 5
  on conflict (project_id, day, model, api_key_id, cache_status) do update set
    requests = r.requests + excluded.requests,
    errors = r.errors + excluded.errors,
    prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = r.completion_tokens + excluded.completion_tokens,
    tokens_saved = r.tokens_saved + excluded.tokens_saved,
    cost_usd = r.cost_usd + excluded.cost_usd,
    cost_saved_usd = r.cost_saved_usd + excluded.cost_saved_usd;

  insert into usage_rollups_model as r (project_id, day, model, requests, hits, semantic_hits, misses,
    errors, prompt_tokens, completion_tokens, tokens_saved, cost_usd, cost_saved_usd,
    latency_hit, latency_semantic, latency_miss)
  select n.project_id, (n.created_at at time zone 'utc')::date, m.model,
    count(*), count(*) filter (where n.cache_status = 'HIT'),
    count(*) filter (where n.cache_status = 'HIT-SEMANTIC'), count(*) filter (where n.cache_status = 'MISS'),
    count(*) filter (where n.status_code >= 400),
    coalesce(sum(n.prompt_tokens), 0), coalesce(sum(n.completion_tokens), 0), coalesce(sum(n.tokens_saved), 0),
    coalesce(sum(n.cost_usd), 0), coalesce(sum(n.cost_saved_usd), 0),
    latency_hist(latency_bucket(n.latency_ms)) filter (where n.cache_status = 'HIT'),
    latency_hist(latency_bucket(n.latency_ms)) filter (where n.cache_status = 'HIT-SEMANTIC'),
    latency_hist(latency_bucket(n.latency_ms)) filter (where n.cache_status = 'MISS')
  from new_rows n
  cross join lateral (values (n.model), ('*')) as m (model)
  group by 1, 2, 3
  order by 1, 2, 3
  on conflict (project_id, day, model) do update set
    requests = r.requests + excluded.requests,
    hits = r.hits + excluded.hits,
    semantic_hits = r.semantic_hits + excluded.semantic_hits,
    misses = r.misses + excluded.misses,
    errors = r.errors + excluded.errors,
    prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = r.completion_tokens + excluded.completion_tokens,
    tokens_saved = r.tokens_saved + excluded.tokens_saved,
    cost_usd = r.cost_usd + excluded.cost_usd,
    cost_saved_usd = r.cost_saved_usd + excluded.cost_saved_usd,
    latency_hit = hist_add(r.latency_hit, excluded.latency_hit, excluded.hits),
    latency_semantic = hist_add(r.latency_semantic, excluded.latency_semantic, excluded.semantic_hits),
    latency_miss = hist_add(r.latency_miss, excluded.latency_miss, excluded.misses),
    percentiles = null;

  insert into usage_monthly as m (project_id, month, requests)
  select n.project_id, date_trunc('month', n.created_at at time zone 'utc')::date, count(*)
  from new_rows n
  where n.billable and n.key_kind = 'live'
  group by 1, 2
  order by 1, 2
  on conflict (project_id, month) do update set requests = m.requests + excluded.requests;
  return null;
end
$$;

-- Monthly partitions -----------------------------------------------------------------------------

create or replace function usage_partition_name(p_month date)
returns text language sql immutable
as $$ select 'usage_logs_' || to_char(p_month, 'YYYY_MM') $$;

-- Creates the missing monthly partitions from p_from's month to p_to's month; returns their names.
create or replace function ensure_usage_partitions(p_from date, p_to date)
returns text[] language plpgsql security definer set search_path = public
as $$
declare
  m date := date_trunc('month', p_from)::date;
  made text[] := '{}';
begin
  while m <= p_to loop
    if to_regclass(usage_partition_name(m)) is null then
      execute format('create table %I partition of usage_logs for values from (%L) to (%L)',
        usage_partition_name(m), (m::timestamp at time zone 'utc'), ((m + interval '1 month')::timestamp at time zone 'utc'));
      made := made || usage_partition_name(m);
    end if;
    m := (m + interval '1 month')::date;
  end loop;
  return made;
end
$$;

-- The cron's upkeep (every 15 minutes): partitions for this month and the next two; the
-- partitions (and their rollups) wholly older than the longest plan retention dropped; and the
-- latency percentiles of days that have ended computed once, so charts over long ranges compute
-- only today's. Returns what it did.
create or replace function usage_upkeep(p_now timestamptz default now())
returns table (created text[], dropped text[], closed bigint)
language plpgsql security definer set search_path = public
as $$
declare
  today date := (p_now at time zone 'utc')::date;
  cutoff date := today - (select coalesce(max(retention_days), 365) from plans);
  part record;
  gone text[] := '{}';
  oldest date;
begin
  created := ensure_usage_partitions(today, (date_trunc('month', today) + interval '2 months')::date);
  for part in
    select c.relname, to_date(substr(c.relname, 12), 'YYYY_MM') as month
    from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'usage_logs'::regclass and c.relname ~ '^usage_logs_\d{4}_\d{2}$'
    order by 2
  loop
    -- The partition's rows all end before the cutoff: the whole month is past retention.
    if (part.month + interval '1 month')::date <= cutoff then
      execute format('drop table %I', part.relname);
      gone := gone || part.relname::text;
    end if;
  end loop;
  -- Rollups go with the rows they summarise.
  oldest := (select min(to_date(substr(c.relname, 12), 'YYYY_MM')) from pg_inherits i
    join pg_class c on c.oid = i.inhrelid where i.inhparent = 'usage_logs'::regclass);
  delete from usage_rollups where day < oldest;
  delete from usage_rollups_model where day < oldest;
  dropped := gone;
  update usage_rollups_model set percentiles =
    coalesce(hist_p50_p95(latency_hit, hits), '{null,null}') ||
    coalesce(hist_p50_p95(latency_semantic, semantic_hits), '{null,null}') ||
    coalesce(hist_p50_p95(latency_miss, misses), '{null,null}')
  where percentiles is null and day < today;
  get diagnostics closed = row_count;
  return next;
end
$$;

-- Moving the existing table into partitions --------------------------------------------------------

alter table usage_logs rename to usage_logs_unpartitioned;
alter index if exists usage_logs_pkey rename to usage_logs_unpartitioned_pkey;
alter index if exists usage_logs_project_time_id_idx rename to usage_logs_unpartitioned_project_time_id_idx;
alter sequence if exists usage_logs_id_seq rename to usage_logs_unpartitioned_id_seq;

create table usage_logs (
  id bigint generated always as identity,
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
  created_at timestamptz not null default now(),
  upstream_attempts smallint not null default 0,
  billable boolean not null default false,
  primary key (id, created_at)
) partition by range (created_at);
create index if not exists usage_logs_project_time_id_idx on usage_logs (project_id, created_at, id);

create trigger usage_logs_rollup after insert on usage_logs
  referencing new table as new_rows for each statement execute function usage_rollup_batch();

-- Partitions for every month with rows, the previous month and the next two.
select ensure_usage_partitions(
  least((select min(created_at) from usage_logs_unpartitioned), now() - interval '1 month')::date,
  (now() + interval '2 months')::date);

-- The existing rows move over in one statement, so the trigger builds their rollups too: deployed
-- projects keep their history. Ids are kept (request-log cursors stay valid).
insert into usage_logs (id, request_id, project_id, api_key_id, key_kind, endpoint, model, provider, cache_status,
  status_code, prompt_tokens, completion_tokens, cost_usd, cost_saved_usd, tokens_saved, latency_ms, similarity,
  error_code, created_at, upstream_attempts, billable)
overriding system value
select id, request_id, project_id, api_key_id, key_kind, endpoint, model, provider, cache_status,
  status_code, prompt_tokens, completion_tokens, cost_usd, cost_saved_usd, tokens_saved, latency_ms, similarity,
  error_code, created_at, upstream_attempts, billable
from usage_logs_unpartitioned;
select setval(pg_get_serial_sequence('usage_logs', 'id'), coalesce((select max(id) from usage_logs), 0) + 1, false);
drop table usage_logs_unpartitioned;

alter table usage_logs enable row level security;
revoke all on usage_logs from anon, authenticated;
grant all on usage_logs to service_role;
grant usage, select on all sequences in schema public to service_role;

-- The reports, now from the rollups ------------------------------------------------------------

create or replace function usage_daily(p_project uuid, p_from date, p_to date)
returns table (
  day date,
  model text,
  requests bigint,
  hits bigint,
  semantic_hits bigint,
  misses bigint,
  errors bigint,
  prompt_tokens bigint,
  completion_tokens bigint,
  tokens_saved bigint,
  cost_usd numeric,
  cost_saved_usd numeric
)
language sql stable
as $$
  select r.day, r.model, r.requests, r.hits, r.semantic_hits, r.misses, r.errors, r.prompt_tokens,
    r.completion_tokens, r.tokens_saved, r.cost_usd, r.cost_saved_usd
  from usage_rollups_model r
  where r.project_id = p_project and r.day between p_from and p_to and r.model <> '*'
  order by 1, 2
$$;

-- Per day, for one model or all of them ('*'): what the charts draw, one row per day.
create or replace function usage_by_day(p_project uuid, p_from date, p_to date, p_model text default null)
returns table (
  day date,
  model text,
  requests bigint,
  hits bigint,
  semantic_hits bigint,
  misses bigint,
  errors bigint,
  cost_usd numeric,
  cost_saved_usd numeric
)
language sql stable
as $$
  select r.day, r.model, r.requests, r.hits, r.semantic_hits, r.misses, r.errors, r.cost_usd, r.cost_saved_usd
  from usage_rollups_model r
  where r.project_id = p_project and r.day between p_from and p_to and r.model = coalesce(p_model, '*')
  order by 1
$$;

-- Per model over a range: the usage table under the charts.
create or replace function usage_by_model(p_project uuid, p_from date, p_to date)
returns table (
  day date,
  model text,
  requests bigint,
  hits bigint,
  semantic_hits bigint,
  misses bigint,
  errors bigint,
  cost_usd numeric,
  cost_saved_usd numeric
)
language sql stable
as $$
  select p_from, r.model, sum(r.requests)::bigint, sum(r.hits)::bigint, sum(r.semantic_hits)::bigint,
    sum(r.misses)::bigint, sum(r.errors)::bigint, sum(r.cost_usd), sum(r.cost_saved_usd)
  from usage_rollups_model r
  where r.project_id = p_project and r.day between p_from and p_to and r.model <> '*'
  group by r.model
  order by 3 desc, 2
$$;

create or replace function latency_daily(p_project uuid, p_from date, p_to date, p_model text default null)
returns table (day date, cache_status text, requests bigint, p50_ms double precision, p95_ms double precision)
language sql stable
as $$
  select l.day, o.status, o.n, o.p[1], o.p[2]
  from usage_rollups_model l
  cross join lateral (values
    ('HIT', l.hits, coalesce(l.percentiles[1:2], hist_p50_p95(l.latency_hit, l.hits))),
    ('HIT-SEMANTIC', l.semantic_hits, coalesce(l.percentiles[3:4], hist_p50_p95(l.latency_semantic, l.semantic_hits))),
    ('MISS', l.misses, coalesce(l.percentiles[5:6], hist_p50_p95(l.latency_miss, l.misses)))
  ) as o (status, n, p)
  where l.project_id = p_project and l.day between p_from and p_to and l.model = coalesce(p_model, '*')
    and o.n > 0
  order by 1, 2
$$;

-- This calendar month's counted requests (UTC; live keys' billable rows) against the plan: one row read.
create or replace function plan_usage(p_project uuid)
returns table (plan text, monthly_requests integer, requests_this_month bigint, percent_used numeric)
language sql stable
as $$
  select p.plan, pl.monthly_requests, coalesce(m.requests, 0)::bigint,
    round(100.0 * coalesce(m.requests, 0) / pl.monthly_requests, 2)
  from projects p
  join plans pl on pl.name = p.plan
  left join usage_monthly m on m.project_id = p.id and m.month = date_trunc('month', now() at time zone 'utc')::date
  where p.id = p_project
$$;

create or replace function usage_alerts_due()
returns table (project_id uuid, project_name text, email text, plan text, monthly_requests integer, requests_this_month bigint, threshold integer)
language sql stable security definer set search_path = public, auth
as $$
  select p.id, p.name, u.email, p.plan, pl.monthly_requests, m.requests, t.threshold
  from usage_monthly m
  join projects p on p.id = m.project_id
  join plans pl on pl.name = p.plan
  join auth.users u on u.id = p.owner_id
  cross join (values (80), (100)) as t (threshold)
  where m.month = date_trunc('month', now() at time zone 'utc')::date
    and m.requests * 100 >= pl.monthly_requests::bigint * t.threshold
    and not exists (
      select 1 from usage_alerts a
      where a.project_id = p.id and a.month = m.month and a.threshold = t.threshold)
  order by p.id, t.threshold
$$;

-- The request log shows only what the project's plan keeps. PL/pgSQL planned for each call's
-- values (force_custom_plan): with the cutoff and cursor known, the planner walks the monthly
-- partitions' indexes newest first and stops after a page, instead of sorting every row.
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
language plpgsql stable
set plan_cache_mode = force_custom_plan
as $$
declare
  since timestamptz := greatest(p_from, now() - (
    select pl.retention_days from projects p join plans pl on pl.name = p.plan where p.id = p_project) * interval '1 day');
  before_at timestamptz := coalesce(p_before_at, 'infinity');
  before_id bigint := coalesce(p_before_id, 9223372036854775807);
begin
  return query
  select u.id, u.created_at, u.request_id, u.api_key_id, k.key_prefix, u.endpoint, u.model,
    u.provider, u.cache_status, u.similarity, u.latency_ms, u.prompt_tokens, u.completion_tokens,
    u.cost_usd, u.cost_saved_usd, u.status_code, u.error_code
  from usage_logs u
  left join api_keys k on k.id = u.api_key_id
  where u.project_id = p_project
    and u.created_at >= since
    and u.created_at < p_to
    and u.created_at <= before_at
    and (u.created_at < before_at or u.id < before_id)
    and (p_cache is null or u.cache_status = p_cache)
    and (p_model is null or u.model = p_model)
    and (p_key is null or u.api_key_id = p_key)
    and (p_status_class is null or u.status_code between p_status_class * 100 and p_status_class * 100 + 99)
  order by u.created_at desc, u.id desc
  limit least(greatest(coalesce(p_limit, 50), 1), 1000);
end
$$;

revoke all on function usage_upkeep(timestamptz), ensure_usage_partitions(date, date) from public, anon, authenticated;
revoke all on function usage_by_day(uuid, date, date, text), usage_by_model(uuid, date, date) from public, anon, authenticated;
grant execute on function usage_upkeep(timestamptz), usage_by_day(uuid, date, date, text), usage_by_model(uuid, date, date) to service_role;
