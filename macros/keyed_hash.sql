{#- Keyed pseudonym: hex HMAC-SHA-256 (RFC 2104) of a value's text, with the pads of the key in
    vault.pseudonym_key (stg_vault__pseudonym_keys), computed at query time. -#}
{% macro keyed_hash(value_expression, keys='pseudonym_keys') -%}
    encode(
        sha256(
            {{ keys }}.outer_pad
            || sha256({{ keys }}.inner_pad || convert_to(cast({{ value_expression }} as text), 'UTF8'))
        ),
        'hex'
    )
{%- endmacro %}
