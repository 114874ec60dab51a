{#- Minute of the day of a timestamptz in the reporting time zone, as the integer hhmm (dim_time). -#}
{% macro to_reporting_time_key(timestamp_expression) -%}
    cast(to_char(({{ timestamp_expression }} at time zone '{{ reporting_timezone() }}'), 'HH24MI') as integer)
{%- endmacro %}
