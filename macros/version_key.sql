{#- Surrogate key of a business-time version: the natural id and the version's valid_from, the
    timestamp rendered in UTC so that the key never depends on the session time zone. -#}
{% macro version_key(id_column, valid_from_column) -%}
    {{ dbt_utils.generate_surrogate_key([id_column, "cast(" ~ valid_from_column ~ " at time zone 'UTC' as text)"]) }}
{%- endmacro %}
