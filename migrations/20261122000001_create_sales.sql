-- A sale: a few units of one product at a fixed price, opening at a fixed instant.
create table sales (
    id                   bigint generated always as identity
                         constraint sales_pkey primary key,
    title                text not null
                         constraint sales_title_length check (char_length(title) between 1 and 200),
    description          text not null default ''
                         constraint sales_description_length check (char_length(description) <= 10000),
    image_url            text not null default '',
    price_cents          bigint not null
                         constraint sales_price_not_negative check (price_cents >= 0),
    list_price_cents     bigint not null
                         constraint sales_list_price_not_negative check (list_price_cents >= 0),
    stock                integer not null
                         constraint sales_stock_positive check (stock > 0),
    per_user_limit       integer not null default 1
                         constraint sales_per_user_limit_positive check (per_user_limit >= 1),
    starts_at            timestamptz not null,
    ends_at              timestamptz not null,
    payment_window_secs  integer not null default 900
                         constraint sales_payment_window_positive check (payment_window_secs > 0),
    captcha              text not null default 'pow'
                         constraint sales_captcha_kind check (captcha in ('image', 'pow', 'none')),
    min_account_age_days integer not null default 0
                         constraint sales_min_account_age_not_negative check (min_account_age_days >= 0),
    paused               boolean not null default false,
    created_at           timestamptz not null default now(),
    constraint sales_window_ordered check (ends_at > starts_at)
);

-- The home page lists sales by start time and skips long-ended ones.
create index sales_ends_at_starts_at_idx on sales (ends_at, starts_at);
