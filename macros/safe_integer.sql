{#- Parses a whole number (optional sign, digits only) without ever raising an error: null unless
    the text has that shape and fits an integer. -#}
{% macro safe_integer(text_expression) -%}
    case
        when {{ text_expression }} ~ '^[+-]?\d+$'
            and pg_input_is_valid({{ text_expression }}, 'integer')
            then cast({{ text_expression }} as integer)
    end
{%- endmacro %}
