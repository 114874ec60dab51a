{#- The typed attribute map of one exported line: "Item" in a full or incremental export file,
    "NewImage" when the line follows the incremental-export/stream shape without "Item". -#}
{% macro dynamo_item(line_column) -%}
    coalesce({{ line_column }} -> 'Item', {{ line_column }} -> 'NewImage')
{%- endmacro %}
