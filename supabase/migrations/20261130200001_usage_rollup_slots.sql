-- Rollup slots: concurrent log batches add to different rollup rows, so they never wait on each
-- other.
--
-- Before this, every batch upserted the same rollup rows as any concurrent batch for the same
-- projects (a project's '*' row of the day, its month, and in the worst case every row), and a
-- row stays locked until its batch commits: PostgreSQL ran such batches one at a time (pgbench, 8
-- clients, batches of 50 rows each a different project, model, key and outcome: 385 batches/s, as
-- many as with 1 client; 2,318/s without rollups).
--
-- Now each rollup row carries a slot (0-7). A batch's trigger takes the first slot no other open
-- transaction holds (a transaction-scoped advisory lock, so it is released at commit with the
-- row locks) and writes only that slot's rows: rows are locked by at most one open batch. With
-- more than 8 batches open at once, a batch waits for one slot (by its backend pid) as before.
-- Readers add a key's slots up (the usage_rollups_by_model view); the cron's usage_upkeep folds
-- the slots of ended days and months into slot 0, so a year of a project reads one row a day, and
-- only today's rows (at most 8 a key) are added at read time.

alter table usage_rollups add column if not exists slot smallint not null default 0;
alter table usage_rollups drop constraint usage_rollups_pkey,
  add primary key (project_id, day, model, api_key_id, cache_status, slot);
alter table usage_rollups_model add column if not exists slot smallint not null default 0;
alter table usage_rollups_model drop constraint usage_rollups_model_pkey,
  add primary key (project_id, day, model, slot);
alter table usage_monthly add column if not exists slot smallint not null default 0;
alter table usage_monthly drop constraint usage_monthly_pkey,
  add primary key (project_id, month, slot);

-- The slot this transaction writes its rollups to, held (advisory lock 'usage_rollup_slot', slot)
-- until it commits. A second batch in the same transaction gets the same slot back.
create or replace function usage_rollup_slot()
returns smallint language plpgsql volatile
as $$
declare
  lock_space constant integer := hashtext('usage_rollup_slot');
  s smallint;
begin
  for s in 0 .. 7 loop
    if pg_try_advisory_xact_lock(lock_space, s) then
      return s;
    end if;
  end loop;
  s := pg_backend_pid() % 8;
  perform pg_advisory_xact_lock(lock_space, s);
  return s;
end
$$;

-- a + b, bucket by bucket: the sum of two histograms (hist_add with n unknown).
create or replace function hist_merge(a integer[], b integer[])
returns integer[] language plpgsql immutable strict parallel safe
as $$
begin
  for i in 1 .. 72 loop
    if b[i] <> 0 then
      a[i] := a[i] + b[i];
    end if;
  end loop;
  return a;
end
$$;

-- The sum of a group's histograms. Strict with no initial state, so a group of one row (every
-- ended day, once folded) is its histogram as it is, with no call.
drop aggregate if exists hist_sum(integer[]);
create aggregate hist_sum(integer[]) (sfunc = hist_merge, stype = integer[], parallel = safe);

create or replace function usage_rollup_batch()
returns trigger language plpgsql security definer set search_path = public
as $$
declare
  s smallint := usage_rollup_slot();
begin
  insert into usage_rollups as r (project_id, day, model, api_key_id, cache_status, slot, requests, errors,
    prompt_tokens, completion_tokens, tokens_saved, cost_usd, cost_saved_usd)
  select n.project_id, (n.created_at at time zone 'utc')::date, n.model,
    coalesce(n.api_key_id, '00000000-0000-0000-0000-000000000000'), n.cache_status, s,
    count(*), count(*) filter (where n.status_code >= 400),
    coalesce(sum(n.prompt_tokens), 0), coalesce(sum(n.completion_tokens), 0), coalesce(sum(n.tokens_saved), 0),
    coalesce(sum(n.cost_usd), 0), coalesce(sum(n.cost_saved_usd), 0)
  from new_rows n
  group by 1, 2, 3, 4, 5
  order by 1, 2, 3, 4, 5
  on conflict (project_id, day, model, api_key_id, cache_status, slot) do update set
    requests = r.requests + excluded.requests,
    errors = r.errors + excluded.errors,
    prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = r.completion_tokens + excluded.completion_tokens,
    tokens_saved = r.tokens_saved + excluded.tokens_saved,
    cost_usd = r.cost_usd + excluded.cost_usd,
    cost_saved_usd = r.cost_saved_usd + excluded.cost_saved_usd;

  insert into usage_rollups_model as r (project_id, day, model, slot, requests, hits, semantic_hits, misses,
    errors, prompt_tokens, completion_tokens, tokens_saved, cost_usd, cost_saved_usd,
    latency_hit, latency_semantic, latency_miss)
  select n.project_id, (n.created_at at time zone 'utc')::date, m.model, s,
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
  on conflict (project_id, day, model, slot) do update set
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

  insert into usage_monthly as m (project_id, month, slot, requests)
  select n.project_id, date_trunc('month', n.created_at at time zone 'utc')::date, s, count(*)
  from new_rows n
  where n.billable and n.key_kind = 'live'
  group by 1, 2
  order by 1, 2
  on conflict (project_id, month, slot) do update set requests = m.requests + excluded.requests;
  return null;
end
$$;

-- Folds the slots of days before p_today (months before its month) into slot 0. Each slot row is
-- deleted and what the delete returned is added, so a batch that adds to a slot row meanwhile
-- either lands before the delete (and is returned by it) or after (and makes a new row): nothing
-- is counted twice or lost. Returns the rows folded.
create or replace function usage_rollups_fold(p_today date)
returns bigint language plpgsql security definer set search_path = public
as $$
declare
  folded bigint := 0;
  n bigint;
begin
  with gone as (
    delete from usage_rollups where slot > 0 and day < p_today returning *
  )
  insert into usage_rollups as r (project_id, day, model, api_key_id, cache_status, slot, requests, errors,
    prompt_tokens, completion_tokens, tokens_saved, cost_usd, cost_saved_usd)
  select project_id, day, model, api_key_id, cache_status, 0, sum(requests), sum(errors), sum(prompt_tokens),
    sum(completion_tokens), sum(tokens_saved), sum(cost_usd), sum(cost_saved_usd)
  from gone
  group by 1, 2, 3, 4, 5
  order by 1, 2, 3, 4, 5
  on conflict (project_id, day, model, api_key_id, cache_status, slot) do update set
    requests = r.requests + excluded.requests,
    errors = r.errors + excluded.errors,
    prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = r.completion_tokens + excluded.completion_tokens,
    tokens_saved = r.tokens_saved + excluded.tokens_saved,
    cost_usd = r.cost_usd + excluded.cost_usd,
    cost_saved_usd = r.cost_saved_usd + excluded.cost_saved_usd;
  get diagnostics n = row_count;
  folded := folded + n;

  with gone as (
    delete from usage_rollups_model where slot > 0 and day < p_today returning *
  )
  insert into usage_rollups_model as r (project_id, day, model, slot, requests, hits, semantic_hits, misses,
    errors, prompt_tokens, completion_tokens, tokens_saved, cost_usd, cost_saved_usd,
    latency_hit, latency_semantic, latency_miss)
  select project_id, day, model, 0, sum(requests), sum(hits), sum(semantic_hits), sum(misses), sum(errors),
    sum(prompt_tokens), sum(completion_tokens), sum(tokens_saved), sum(cost_usd), sum(cost_saved_usd),
    hist_sum(latency_hit), hist_sum(latency_semantic), hist_sum(latency_miss)
  from gone
  group by 1, 2, 3
  order by 1, 2, 3
  on conflict (project_id, day, model, slot) do update set
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
    latency_hit = hist_merge(r.latency_hit, excluded.latency_hit),
    latency_semantic = hist_merge(r.latency_semantic, excluded.latency_semantic),
    latency_miss = hist_merge(r.latency_miss, excluded.latency_miss),
    percentiles = null;
  get diagnostics n = row_count;
  folded := folded + n;

  with gone as (
    delete from usage_monthly where slot > 0 and month < date_trunc('month', p_today)::date returning *
  )
  insert into usage_monthly as m (project_id, month, slot, requests)
  select project_id, month, 0, sum(requests) from gone group by 1, 2 order by 1, 2
  on conflict (project_id, month, slot) do update set requests = m.requests + excluded.requests;
  get diagnostics n = row_count;
  return folded + n;
end
$$;

-- As before (20261130100002_usage_rollups.sql), with the ended days' slots folded before their
-- percentiles are computed.
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
  perform usage_rollups_fold(today);
  update usage_rollups_model set percentiles =
    coalesce(hist_p50_p95(latency_hit, hits), '{null,null}') ||
    coalesce(hist_p50_p95(latency_semantic, semantic_hits), '{null,null}') ||
    coalesce(hist_p50_p95(latency_miss, misses), '{null,null}')
  where percentiles is null and day < today and slot = 0;
  get diagnostics closed = row_count;
  return next;
end
$$;

-- usage_rollups_model with each key's slots added up: what every report reads. Filters on
-- project, day and model reach the table's index through the grouping. `percentiles` is the
-- stored one when the day is one closed row, else null (computed from the summed histograms).
create or replace view usage_rollups_by_model as
select project_id, day, model,
  sum(requests)::bigint as requests, sum(hits)::bigint as hits, sum(semantic_hits)::bigint as semantic_hits,
  sum(misses)::bigint as misses, sum(errors)::bigint as errors, sum(prompt_tokens)::bigint as prompt_tokens,
  sum(completion_tokens)::bigint as completion_tokens, sum(tokens_saved)::bigint as tokens_saved,
  sum(cost_usd) as cost_usd, sum(cost_saved_usd) as cost_saved_usd,
  hist_sum(latency_hit) as latency_hit, hist_sum(latency_semantic) as latency_semantic,
  hist_sum(latency_miss) as latency_miss,
  case when count(*) = 1 then min(percentiles) end as percentiles
from usage_rollups_model
group by project_id, day, model;
revoke all on usage_rollups_by_model from anon, authenticated;
grant select on usage_rollups_by_model to service_role;

-- The (day, model)s written to more than one slot: today's, and a late batch's until the cron
-- folds it. Small, so usage_daily finds them without reading every row.
create index if not exists usage_rollups_model_split_idx on usage_rollups_model (project_id, day) where slot > 0;

-- Every (day, model) of a range: the rows that are alone in their key as they are, the others
-- added up. A year is about 1,500 rows; adding every one up (the view) took twice as long.
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
  with split as (
    select distinct s.day, s.model from usage_rollups_model s
    where s.project_id = p_project and s.day between p_from and p_to and s.slot > 0 and s.model <> '*'
  )
  select r.day, r.model, r.requests, r.hits, r.semantic_hits, r.misses, r.errors, r.prompt_tokens,
    r.completion_tokens, r.tokens_saved, r.cost_usd, r.cost_saved_usd
  from usage_rollups_model r
  where r.project_id = p_project and r.day between p_from and p_to and r.model <> '*' and r.slot = 0
    and not exists (select 1 from split where split.day = r.day and split.model = r.model)
  union all
  select r.day, r.model, sum(r.requests)::bigint, sum(r.hits)::bigint, sum(r.semantic_hits)::bigint,
    sum(r.misses)::bigint, sum(r.errors)::bigint, sum(r.prompt_tokens)::bigint,
    sum(r.completion_tokens)::bigint, sum(r.tokens_saved)::bigint, sum(r.cost_usd), sum(r.cost_saved_usd)
  from usage_rollups_model r
  join split on split.day = r.day and split.model = r.model
  where r.project_id = p_project
  group by r.day, r.model
  order by 1, 2
$$;

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
  from usage_rollups_by_model r
  where r.project_id = p_project and r.day between p_from and p_to and r.model = coalesce(p_model, '*')
  order by 1
$$;

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
  from usage_rollups_by_model l
  cross join lateral (values
    ('HIT', l.hits, coalesce(l.percentiles[1:2], hist_p50_p95(l.latency_hit, l.hits))),
    ('HIT-SEMANTIC', l.semantic_hits, coalesce(l.percentiles[3:4], hist_p50_p95(l.latency_semantic, l.semantic_hits))),
    ('MISS', l.misses, coalesce(l.percentiles[5:6], hist_p50_p95(l.latency_miss, l.misses)))
  ) as o (status, n, p)
  where l.project_id = p_project and l.day between p_from and p_to and l.model = coalesce(p_model, '*')
    and o.n > 0
  order by 1, 2
$$;

create or replace function plan_usage(p_project uuid)
returns table (plan text, monthly_requests integer, requests_this_month bigint, percent_used numeric)
language sql stable
as $$
  select p.plan, pl.monthly_requests, coalesce(m.requests, 0)::bigint,
    round(100.0 * coalesce(m.requests, 0) / pl.monthly_requests, 2)
  from projects p
  join plans pl on pl.name = p.plan
  left join lateral (
    select sum(u.requests) as requests from usage_monthly u
    where u.project_id = p.id and u.month = date_trunc('month', now() at time zone 'utc')::date
  ) m on true
  where p.id = p_project
$$;

create or replace function usage_alerts_due()
returns table (project_id uuid, project_name text, email text, plan text, monthly_requests integer, requests_this_month bigint, threshold integer)
language sql stable security definer set search_path = public, auth
as $$
  select p.id, p.name, u.email, p.plan, pl.monthly_requests, m.requests, t.threshold
  from (
    select u.project_id, u.month, sum(u.requests)::bigint as requests from usage_monthly u
    where u.month = date_trunc('month', now() at time zone 'utc')::date
    group by 1, 2
  ) m
  join projects p on p.id = m.project_id
  join plans pl on pl.name = p.plan
  join auth.users u on u.id = p.owner_id
  cross join (values (80), (100)) as t (threshold)
  where m.requests * 100 >= pl.monthly_requests::bigint * t.threshold
    and not exists (
      select 1 from usage_alerts a
      where a.project_id = p.id and a.month = m.month and a.threshold = t.threshold)
  order by p.id, t.threshold
$$;

revoke all on function usage_rollup_slot(), usage_rollups_fold(date) from public, anon, authenticated;
