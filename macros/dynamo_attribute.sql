{#- Typed attribute at a path of attribute names: the first name is read from the item's
    attribute map, every further name from the "M" (map) value of the previous one. -#}
{% macro dynamo_attribute(attributes, path) -%}
    {%- set names = [path] if path is string else path -%}
    {{ attributes }}
    {%- for name in names -%}
        {%- if not loop.first %} -> 'M'{% endif %} -> '{{ name }}'
    {%- endfor -%}
{%- endmacro %}
