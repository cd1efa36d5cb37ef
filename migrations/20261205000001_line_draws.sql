-- A queue sale's draw, kept in Postgres when it is made, so that a Redis that
-- loses its data gets the line's drawn places back: they follow from these
-- entrants and the sale's secret (derived from the server's key), so only the
-- entrants and their join times need keeping. One row per sale, written once.
create table line_draws (
    sale_id     bigint not null
                constraint line_draws_pkey primary key
                constraint line_draws_sale_id_fkey references sales (id),
    -- The pre-start entrants, ascending: the list the draw hashed and published.
    user_ids    bigint[] not null,
    -- When each joined (ms, Redis' clock), in the same order.
    joined_ms   bigint[] not null
                constraint line_draws_aligned
                check (cardinality(joined_ms) = cardinality(user_ids)),
    drawn_at_ms bigint not null
);
