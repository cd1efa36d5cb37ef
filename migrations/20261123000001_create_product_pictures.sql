-- A product picture an admin uploaded, addressed by the SHA-256 of its bytes:
-- its URL never changes meaning, so browsers and CDNs may keep it forever, and
-- the same file uploaded twice is stored once.
create table product_pictures (
    sha256       text
                 constraint product_pictures_pkey primary key
                 constraint product_pictures_sha256_hex check (sha256 ~ '^[0-9a-f]{64}$'),
    content_type text not null
                 constraint product_pictures_content_type
                 check (content_type in ('image/png', 'image/jpeg', 'image/webp', 'image/gif')),
    bytes        bytea not null
                 constraint product_pictures_size check (octet_length(bytes) between 1 and 2097152),
    created_at   timestamptz not null default now()
);
