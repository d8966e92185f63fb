-- Monthly quotas (enforced by the proxy in Redis, counted with the per-minute limit):
-- * the key lookup tells the proxy which monthly limit a key counts against: the project's plan
--   for live keys, the sandbox plan for test keys;
-- * usage_logs.billable marks the requests the proxy counted (admitted by both limits, cache hits
--   included), so the dashboard's "N of M this month" counts exactly those.

alter table usage_logs add column if not exists billable boolean not null default false;

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
  case when k.kind = 'test' then sandbox.monthly_requests else pl.monthly_requests end as monthly_requests
from api_keys k
join projects p on p.id = k.project_id
join plans pl on pl.name = p.plan
cross join (select requests_per_minute, monthly_requests from plans where name = 'sandbox') sandbox;

revoke all on api_key_lookup from anon, authenticated;
grant select on api_key_lookup to service_role;

-- The plan's figure: live keys' billable requests this month (test keys count against the
-- sandbox plan, apart).
create or replace function plan_usage(p_project uuid)
returns table (plan text, monthly_requests integer, requests_this_month bigint, percent_used numeric)
language sql stable
as $$
  with used as (
    select count(*) as n from usage_logs u
    where u.project_id = p_project
      and u.billable
      and u.key_kind = 'live'
      and u.created_at >= date_trunc('month', now() at time zone 'utc') at time zone 'utc'
  )
  select p.plan, pl.monthly_requests, used.n, round(100.0 * used.n / pl.monthly_requests, 2)
  from projects p
  join plans pl on pl.name = p.plan
  cross join used
  where p.id = p_project
$$;

-- Usage alerts (80% / 100% of the month) count what plan_usage counts.
create or replace function usage_alerts_due()
returns table (project_id uuid, project_name text, email text, plan text, monthly_requests integer, requests_this_month bigint, threshold integer)
language sql stable security definer set search_path = public, auth
as $$
  with month_usage as (
    select p.id, p.name, p.plan, pl.monthly_requests, u.email,
      (select count(*) from usage_logs l
        where l.project_id = p.id
          and l.billable
          and l.key_kind = 'live'
          and l.created_at >= date_trunc('month', now() at time zone 'utc') at time zone 'utc') as used
    from projects p
    join plans pl on pl.name = p.plan
    join auth.users u on u.id = p.owner_id
  )
  select m.id, m.name, m.email, m.plan, m.monthly_requests, m.used, t.threshold
  from month_usage m
  cross join (values (80), (100)) as t (threshold)
  where m.used * 100 >= m.monthly_requests::bigint * t.threshold
    and not exists (
      select 1 from usage_alerts a
      where a.project_id = m.id
        and a.month = (date_trunc('month', now() at time zone 'utc'))::date
        and a.threshold = t.threshold)
  order by m.id, t.threshold
$$;
