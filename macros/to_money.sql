{#- Rounds a parsed amount to cents (half away from zero) as numeric(12, 2); null when the amount
    is null, negative, or too large for numeric(12, 2) (10 000 000 000 or more once rounded). -#}
{% macro to_money(numeric_expression) -%}
    case
        when {{ numeric_expression }} >= 0
            and round({{ numeric_expression }}, 2) < 10000000000
            then cast(round({{ numeric_expression }}, 2) as numeric(12, 2))
    end
{%- endmacro %}
