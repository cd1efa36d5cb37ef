-- A sale's prices are in one currency: its ISO 4217 code (the server checks it
-- against the codes in circulation; amounts are in the currency's minor unit).
-- Sales made before there was a choice (and rows written by hand) are in US dollars.
alter table sales
    add column currency text not null default 'USD'
        constraint sales_currency_code check (currency ~ '^[A-Z]{3}$');
