{#- Number of elements of an L (list) typed attribute; 0 when absent, NULL or of another type. -#}
{% macro dynamo_list_length(attributes, path) -%}
    {%- set attribute = dynamo_attribute(attributes, path) -%}
    coalesce(
        jsonb_array_length(
            case when jsonb_typeof({{ attribute }} -> 'L') = 'array' then {{ attribute }} -> 'L' end
        ),
        0
    )
{%- endmacro %}
