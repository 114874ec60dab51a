{#- A date as the integer yyyymmdd (dim_date key). -#}
{% macro to_date_key(date_expression) -%}
    cast(to_char({{ date_expression }}, 'YYYYMMDD') as integer)
{%- endmacro %}
