with

department_versions as (
    select * from {{ ref('int_departments_versioned') }}
),

-- a hospital is described as in its latest department version (current ones first, then the
-- one that started last)
hospital_descriptions_ranked as (
    select
        hospital_id,
        hospital_name,
        city,
        state,
        row_number() over (
            partition by hospital_id
            order by valid_to desc, valid_from desc, department_id desc
        ) as description_rank
    from department_versions
),

hospitals as (
    select
        hospital_id,
        {{ dbt_utils.generate_surrogate_key(['hospital_id']) }} as hospital_key,
        hospital_name,
        city,
        state
    from hospital_descriptions_ranked
    where description_rank = 1
)

select * from hospitals
