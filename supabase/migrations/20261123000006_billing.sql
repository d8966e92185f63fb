-- Billing (Stripe) and usage alerts (Resend): each project's Stripe customer and subscription, the
-- Stripe events already applied (webhooks are idempotent and ignore stale events), and the usage
-- alerts already sent (one per project, month and threshold).

alter table projects
  add column if not exists stripe_customer_id text,
  add column if not exists stripe_subscription_id text,
  add column if not exists subscription_status text,
  -- `created` of the newest Stripe event applied to this project; older events are ignored
  add column if not exists billing_event_at timestamptz;
create unique index if not exists projects_stripe_customer_idx on projects (stripe_customer_id) where stripe_customer_id is not null;

create table if not exists stripe_events (
  id text primary key,
  type text not null,
  created timestamptz not null,
  received_at timestamptz not null default now()
);

create table if not exists usage_alerts (
  project_id uuid not null references projects (id) on delete cascade,
  month date not null,
  threshold integer not null check (threshold in (80, 100)),
  sent_at timestamptz not null default now(),
  primary key (project_id, month, threshold)
);

alter table stripe_events enable row level security;
alter table usage_alerts enable row level security;
revoke all on stripe_events, usage_alerts from anon, authenticated;
grant all on stripe_events, usage_alerts to service_role;

-- The owner's email (auth.users is not exposed through REST).
create or replace function project_owner_email(p_project uuid)
returns text
language sql stable security definer set search_path = public, auth
as $$
  select u.email from projects p join auth.users u on u.id = p.owner_id where p.id = p_project
$$;

-- Projects that crossed 80% or 100% of their plan's monthly requests and were not told yet.
create or replace function usage_alerts_due()
returns table (project_id uuid, project_name text, email text, plan text, monthly_requests integer, requests_this_month bigint, threshold integer)
language sql stable security definer set search_path = public, auth
as $$
  with month_usage as (
    select p.id, p.name, p.plan, pl.monthly_requests, u.email,
      (select count(*) from usage_logs l
        where l.project_id = p.id
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

revoke all on function project_owner_email(uuid), usage_alerts_due() from public, anon, authenticated;
grant execute on function project_owner_email(uuid), usage_alerts_due() to service_role;

-- Applies a subscription change from a Stripe event to one project (by id, or by its Stripe
-- customer), only if the event is newer than the last one applied: re-deliveries and out-of-order
-- events change nothing. Returns whether a project was updated.
create or replace function apply_subscription_event(
  p_plan text, p_status text, p_event_at timestamptz,
  p_project uuid default null, p_customer text default null, p_subscription text default null)
returns boolean
language sql volatile
as $$
  with updated as (
    update projects set
      plan = p_plan,
      stripe_customer_id = coalesce(p_customer, stripe_customer_id),
      stripe_subscription_id = coalesce(p_subscription, stripe_subscription_id),
      subscription_status = p_status,
      billing_event_at = p_event_at
    where (id = p_project or (p_project is null and stripe_customer_id = p_customer))
      and (billing_event_at is null or billing_event_at < p_event_at)
    returning 1)
  select exists (select 1 from updated)
$$;
revoke all on function apply_subscription_event(text, text, timestamptz, uuid, text, text) from public, anon, authenticated;
grant execute on function apply_subscription_event(text, text, timestamptz, uuid, text, text) to service_role;
