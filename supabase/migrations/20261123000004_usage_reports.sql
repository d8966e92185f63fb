-- Usage reports for the dashboard, aggregated in SQL (the browser never sums raw logs):
-- usage_daily: per day and model, requests by cache outcome, errors, tokens, cost and cost saved;
-- plan_usage: this calendar month's requests against the project's plan limit.
-- Called through Supabase REST (`POST /rest/v1/rpc/<name>`) by the dashboard's server side with the
-- service role after it has checked the signed-in user owns the project. Range scans use
-- usage_logs_project_time_idx (project_id, created_at).


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
  select
    (u.created_at at time zone 'utc')::date as day,
    u.model,
    count(*) as requests,
    count(*) filter (where u.cache_status = 'HIT') as hits,
    count(*) filter (where u.cache_status = 'HIT-SEMANTIC') as semantic_hits,
    count(*) filter (where u.cache_status = 'MISS') as misses,
    count(*) filter (where u.status_code >= 400) as errors,
    coalesce(sum(u.prompt_tokens), 0)::bigint as prompt_tokens,
    coalesce(sum(u.completion_tokens), 0)::bigint as completion_tokens,
    coalesce(sum(u.tokens_saved), 0)::bigint as tokens_saved,
    coalesce(sum(u.cost_usd), 0) as cost_usd,
    coalesce(sum(u.cost_saved_usd), 0) as cost_saved_usd
  from usage_logs u
  where u.project_id = p_project
    and u.created_at >= p_from::timestamp at time zone 'utc'
    and u.created_at < (p_to + 1)::timestamp at time zone 'utc'
  group by 1, 2
  order by 1, 2
$$;

create or replace function plan_usage(p_project uuid)
returns table (plan text, monthly_requests integer, requests_this_month bigint, percent_used numeric)
language sql stable
as $$
  select
    p.plan,
    pl.monthly_requests,
    (select count(*) from usage_logs u
      where u.project_id = p.id
        and u.created_at >= date_trunc('month', now() at time zone 'utc') at time zone 'utc') as requests_this_month,
    round(100.0 * (select count(*) from usage_logs u
      where u.project_id = p.id
        and u.created_at >= date_trunc('month', now() at time zone 'utc') at time zone 'utc') / pl.monthly_requests, 2) as percent_used
  from projects p
  join plans pl on pl.name = p.plan
  where p.id = p_project
$$;

revoke all on function usage_daily(uuid, date, date), plan_usage(uuid) from public, anon, authenticated;
grant execute on function usage_daily(uuid, date, date), plan_usage(uuid) to service_role;
