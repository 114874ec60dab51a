{#- Boolean value of a BOOL typed attribute; null when absent, NULL or of another type. -#}
{% macro dynamo_boolean(attributes, path) -%}
    {%- set attribute = dynamo_attribute(attributes, path) -%}
    case
        when jsonb_typeof({{ attribute }} -> 'BOOL') = 'boolean'
            then cast({{ attribute }} ->> 'BOOL' as boolean)
    end
{%- endmacro %}
