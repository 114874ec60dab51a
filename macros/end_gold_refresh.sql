{#- on-run-end of the all-or-nothing gold refresh (see begin_gold_refresh): publish (drop the
    previous versions) when every node of the build succeeded, passed or only warned;
    otherwise restore every gold relation the build changed, in one transaction. -#}
{% macro end_gold_refresh(results) %}
    {%- if execute and flags.WHICH in ['build', 'run', 'retry'] -%}
        {%- set problems = [] -%}
        {%- for result in results if result.status not in ['success', 'pass', 'warn', 'no-op'] -%}
            {%- do problems.append(result.node.name ~ ' ' ~ result.status) -%}
        {%- endfor -%}
        {#- a view left on a previous version (a bi view whose gold table was rebuilt without
            it, e.g. --select fct_claims instead of fct_claims+) would go with the holding
            schema: the build is incomplete -#}
        {%- set orphans = [] -%}
        {%- if not problems -%}
            {%- set orphans = views_on_previous_versions() -%}
            {%- for view in orphans -%}
                {%- do problems.append(view ~ ' not rebuilt') -%}
            {%- endfor -%}
        {%- endif -%}
        {%- if problems -%}
            {%- set reason = 'the build did not succeed (' ~ (problems | length) ~ ' node(s): '
                ~ (problems[:5] | join(', ')) ~ (', ...' if problems | length > 5 else '') ~ ')' -%}
            {%- set restored = restore_previous_versions(reason=reason) -%}
            {%- if not restored -%}
                {{ log("All-or-nothing gold: " ~ reason ~ "; no gold relation had changed", info=True) }}
            {%- endif -%}
            {%- if orphans -%}
                {%- do exceptions.raise_compiler_error(
                    "All-or-nothing gold: the views " ~ (orphans | join(', ')) ~ " read relations"
                    ~ " this build replaced but were not rebuilt, so gold was put back; select"
                    ~ " them too (e.g. --select <model>+)") -%}
            {%- endif -%}
        {%- else -%}
            {%- call statement('end_gold_refresh', auto_begin=True) -%}
                drop schema if exists {{ adapter.quote(var('previous_versions_schema')) }} cascade
            {%- endcall -%}
            {%- do adapter.commit() -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
