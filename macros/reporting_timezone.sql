{#- The reporting time zone (dbt var reporting_timezone, default America/Chicago). -#}
{% macro reporting_timezone() -%}
    {{ var('reporting_timezone') }}
{%- endmacro %}
