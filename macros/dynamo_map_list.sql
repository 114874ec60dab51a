{#- Decodes an L (list) of M (map) typed attributes into a plain JSON array of objects, in list
    order. fields maps each output key to 'text' or 'number'; a missing or unreadable field is a
    JSON null. An absent, NULL or non-list attribute gives an empty array. -#}
{% macro dynamo_map_list(attributes, path, fields) -%}
    {%- set attribute = dynamo_attribute(attributes, path) -%}
    {%- set element = "list_element.element -> 'M'" -%}
    coalesce(
        (
            select
                jsonb_agg(
                    jsonb_build_object(
                        {%- for field, field_type in fields.items() %}
                        '{{ field }}',
                        {% if field_type == 'number' -%}
                            {{ safe_numeric(dynamo_text(element, [field])) }}
                        {%- else -%}
                            {{ dynamo_text(element, [field]) }}
                        {%- endif -%}
                        {{- "," if not loop.last }}
                        {%- endfor %}
                    )
                    order by list_element.position
                )
            from jsonb_array_elements(
                case
                    when jsonb_typeof({{ attribute }} -> 'L') = 'array'
                        then {{ attribute }} -> 'L'
                    else cast('[]' as jsonb)
                end
            ) with ordinality as list_element (element, position)
        ),
        cast('[]' as jsonb)
    )
{%- endmacro %}
