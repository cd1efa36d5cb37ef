-- How a sale's shoppers reach the buy: `race` (first come at the start, as every
-- sale before this migration) or `queue` (a waiting room whose line opens at
-- `queue_opens_at`, at or before the start, and lets shoppers in at most
-- `queue_pace_per_s` a second while at most `queue_window_per_unit` admitted
-- shoppers per unit left are still deciding).
alter table sales
    add column admission text not null default 'race'
        constraint sales_admission_kind check (admission in ('race', 'queue')),
    add column queue_opens_at timestamptz,
    add column queue_window_per_unit integer not null default 2
        constraint sales_queue_window_range check (queue_window_per_unit between 1 and 100),
    add column queue_pace_per_s integer not null default 200
        constraint sales_queue_pace_range check (queue_pace_per_s between 1 and 100000),
    add constraint sales_queue_opening check (
        (admission = 'queue') = (queue_opens_at is not null)
        and (queue_opens_at is null or queue_opens_at <= starts_at));
