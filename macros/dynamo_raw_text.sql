{#- The value as sent, untrimmed, for *_raw lineage columns: the S or N string, the JSON text of
    any other non-NULL type, null when the attribute is absent or NULL. -#}
{% macro dynamo_raw_text(attributes, path) -%}
    {%- set attribute = dynamo_attribute(attributes, path) -%}
    coalesce(
        {{ attribute }} ->> 'S',
        {{ attribute }} ->> 'N',
        case when {{ attribute }} -> 'NULL' is null then cast({{ attribute }} as text) end
    )
{%- endmacro %}
