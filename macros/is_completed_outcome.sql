{#- True when a treatment outcome is completed (success or failure); ongoing and cancelled are not. -#}
{% macro is_completed_outcome(outcome_status) -%}
    {{ outcome_status }} in ('success', 'failure')
{%- endmacro %}
