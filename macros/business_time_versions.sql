{#- Business-time SCD2 versions from observations (gaps and islands). Renders three CTEs after
    an observations CTE that has the id, the observation instant (observed_at_column), the
    tie-breaker columns and the attributes: observations_per_instant (several observations of
    one id at one instant: the last in tie_breaker_columns order states the entity then, so no
    version is zero-length), observations_compared (a version starts where the attribute tuple
    differs from the previous observation) and versions (one row per run of equal tuples:
    valid_from = its first observation, '-infinity' for the first version; valid_to = the next
    version's valid_from, 'infinity' for the last). -#}
{% macro business_time_versions(
    observations,
    id_column,
    attribute_columns,
    observed_at_column='treated_at',
    tie_breaker_columns=['treatment_id']
) -%}
observations_per_instant as (
    select
        {{ id_column }},
        {{ observed_at_column }},
        {{ attribute_columns | join(',\n        ') }},
        jsonb_build_array({{ attribute_columns | join(', ') }}) as attribute_tuple
    from (
        select
            *,
            row_number() over (
                partition by {{ id_column }}, {{ observed_at_column }}
                order by {% for column in tie_breaker_columns %}{{ column }} desc{% if not loop.last %}, {% endif %}{% endfor %}
            ) as rank_at_instant
        from {{ observations }}
    ) as ranked_observations
    where rank_at_instant = 1
),

observations_compared as (
    select
        *,
        (
            attribute_tuple is distinct from lag(attribute_tuple) over (
                partition by {{ id_column }}
                order by {{ observed_at_column }}
            )
        ) as is_version_start
    from observations_per_instant
),

versions as (
    select
        {{ id_column }},
        {{ attribute_columns | join(',\n        ') }},
        case
            when row_number() over entity_versions = 1 then cast('-infinity' as timestamptz)
            else {{ observed_at_column }}
        end as valid_from,
        coalesce(lead({{ observed_at_column }}) over entity_versions, cast('infinity' as timestamptz)) as valid_to
    from observations_compared
    where is_version_start
    window entity_versions as (partition by {{ id_column }} order by {{ observed_at_column }})
)
{%- endmacro %}
