-- Shoppers and admins. Passwords are argon2 PHC strings, never plain text.
create table users (
    id            bigint generated always as identity
                  constraint users_pkey primary key,
    username      text not null
                  constraint users_username_key unique,
    password_hash text not null,
    is_admin      boolean not null default false,
    created_at    timestamptz not null default now()
);

-- An order is born in Redis (the reserve script) and persisted here by the order
-- consumer. Its id is made by the server before the reserve (`<sale>-<32 hex>`),
-- so the buyer can poll it at once.
create table orders (
    id                text not null
                      constraint orders_pkey primary key,
    sale_id           bigint not null
                      constraint orders_sale_id_fkey references sales (id),
    user_id           bigint not null
                      constraint orders_user_id_fkey references users (id),
    -- The user's n-th reservation in this sale: a retry of the same message
    -- cannot make a second row.
    seq               integer not null,
    units             integer not null
                      constraint orders_units_positive check (units > 0),
    price_cents       bigint not null,
    status            text not null
                      constraint orders_status_known
                      check (status in ('pending_payment', 'paid', 'expired', 'cancelled')),
    -- The id of the stream message that carried the reservation.
    stream_message_id text not null,
    created_at        timestamptz not null,
    pay_before        timestamptz not null,
    paid_at           timestamptz,
    closed_at         timestamptz,
    -- Set once the units of an expired or cancelled order are back in Redis.
    stock_returned    boolean not null default false,
    constraint orders_stream_message_key unique (sale_id, stream_message_id),
    constraint orders_sale_user_seq_key unique (sale_id, user_id, seq)
);

create index orders_user_id_idx on orders (user_id, created_at desc);
create index orders_sale_id_status_idx on orders (sale_id, status);
-- The expiry sweeper's work queue.
create index orders_pending_pay_before_idx on orders (pay_before) where status = 'pending_payment';
-- Closed orders whose units still have to go back to Redis.
create index orders_unreturned_idx on orders (sale_id)
    where status in ('expired', 'cancelled') and not stock_returned;
