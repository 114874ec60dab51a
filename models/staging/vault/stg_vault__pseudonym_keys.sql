{#- The HMAC-SHA-256 pads of the pseudonym key (RFC 2104): a key longer than the 64-byte block
    is hashed first, then zero-padded to 64 bytes; inner pad = key xor 0x36 bytes, outer pad =
    key xor 0x5c bytes. A view: the key is read at query time and never stored elsewhere. -#}
with

pseudonym_key as (
    select * from {{ source('vault', 'pseudonym_key') }}
),

key_blocks as (
    select
        case
            when length(pseudonym_key.key) > 64 then sha256(pseudonym_key.key)
            else pseudonym_key.key
        end as key_block
    from pseudonym_key
),

key_bytes as (
    select
        block_offsets.byte_offset,
        case
            when block_offsets.byte_offset < length(key_blocks.key_block)
                then get_byte(key_blocks.key_block, block_offsets.byte_offset)
            else 0
        end as key_byte
    from key_blocks
    cross join generate_series(0, 63) as block_offsets (byte_offset)
),

-- a xor b = a + b - 2 * (a & b)
key_bytes_xored as (
    select
        key_bytes.byte_offset,
        key_bytes.key_byte + 54 - 2 * (key_bytes.key_byte & 54) as inner_byte,
        key_bytes.key_byte + 92 - 2 * (key_bytes.key_byte & 92) as outer_byte
    from key_bytes
),

pads as (
    select
        decode(
            string_agg(lpad(to_hex(key_bytes_xored.inner_byte), 2, '0'), '' order by key_bytes_xored.byte_offset),
            'hex'
        ) as inner_pad,
        decode(
            string_agg(lpad(to_hex(key_bytes_xored.outer_byte), 2, '0'), '' order by key_bytes_xored.byte_offset),
            'hex'
        ) as outer_pad
    from key_bytes_xored
    having count(*) > 0
)

select * from pads
