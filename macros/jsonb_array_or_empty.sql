{#- A JSONB value when it is an array, else an empty array: what jsonb_array_elements may unnest
    (it raises on a scalar or an object), so a document whose list is missing, null or of the
    wrong type flattens to no rows. -#}
{% macro jsonb_array_or_empty(expression) -%}
    case
        when jsonb_typeof({{ expression }}) = 'array' then {{ expression }}
        else cast('[]' as jsonb)
    end
{%- endmacro %}
