-- Dashboard: projects belong to a Supabase Auth user; deleting the user deletes their projects.
alter table projects drop constraint if exists projects_owner_id_fkey;
alter table projects add constraint projects_owner_id_fkey foreign key (owner_id) references auth.users (id) on delete cascade;
create index if not exists projects_owner_idx on projects (owner_id);
