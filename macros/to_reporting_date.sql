{#- Calendar date of a timestamptz in the reporting time zone. -#}
{% macro to_reporting_date(timestamp_expression) -%}
    cast(({{ timestamp_expression }} at time zone '{{ reporting_timezone() }}') as date)
{%- endmacro %}
