{#- Parses a decimal number (optional sign, optional exponent) without ever raising an error:
    null unless the text matches the number pattern and PostgreSQL accepts it as numeric. -#}
{% macro safe_numeric(text_expression) -%}
    case
        when {{ text_expression }} ~ '^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$'
            and pg_input_is_valid({{ text_expression }}, 'numeric')
            then cast({{ text_expression }} as numeric)
    end
{%- endmacro %}
