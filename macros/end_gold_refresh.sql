{#- on-run-end of the all-or-nothing gold refresh (see begin_gold_refresh): publish (drop the
    previous versions) when every node of the build succeeded, passed or only warned;
    otherwise restore every gold relation the build changed, in one transaction. -#}
{% macro end_gold_refresh(results) %}
    {%- if execute and flags.WHICH in ['build', 'run', 'retry'] -%}
        {%- set problems = [] -%}
        {%- for result in results if result.status not in ['success', 'pass', 'warn', 'no-op'] -%}
            {%- do problems.append(result.node.name ~ ' ' ~ result.status) -%}
        {%- endfor -%}
        {%- if problems -%}
            {%- set reason = 'the build did not succeed (' ~ (problems | length) ~ ' node(s): '
                ~ (problems[:5] | join(', ')) ~ (', ...' if problems | length > 5 else '') ~ ')' -%}
            {%- set restored = restore_previous_versions(reason=reason) -%}
            {%- if not restored -%}
                {{ log("All-or-nothing gold: " ~ reason ~ "; no gold relation had changed", info=True) }}
            {%- endif -%}
        {%- else -%}
            {%- call statement('end_gold_refresh', auto_begin=True) -%}
                drop schema if exists {{ adapter.quote(var('previous_versions_schema')) }} cascade
            {%- endcall -%}
            {%- do adapter.commit() -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
