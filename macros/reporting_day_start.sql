{#- The instant (timestamptz) at which a calendar date begins in the reporting time zone:
    midnight of that date there. The inverse of to_reporting_date. -#}
{% macro reporting_day_start(date_expression) -%}
    (cast({{ date_expression }} as timestamp) at time zone '{{ reporting_timezone() }}')
{%- endmacro %}
