with

treatments as (
    select * from {{ ref('stg_dynamo__treatments') }}
),

-- A code is named as in its most recent treatment (tie: treatment_id).
disease_names_ranked as (
    select
        disease_code,
        disease_name,
        row_number() over (
            partition by disease_code
            order by treated_at desc, treatment_id desc
        ) as name_rank
    from treatments
),

diseases as (
    select
        {{ dbt_utils.generate_surrogate_key(['disease_code']) }} as disease_key,
        disease_code,
        disease_name
    from disease_names_ranked
    where name_rank = 1
)

select * from diseases
