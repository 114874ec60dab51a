{#- Success rate as an unrounded numeric fraction: successes / completed, null when completed = 0. -#}
{% macro success_rate(successes, completed) -%}
    cast({{ successes }} as numeric) / nullif({{ completed }}, 0)
{%- endmacro %}
