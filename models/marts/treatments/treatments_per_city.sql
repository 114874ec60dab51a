with

fct_treatments as (
    select * from {{ ref('fct_treatments') }}
),

dim_location as (
    select * from {{ ref('dim_location') }}
),

treatments_located as (
    select
        fct_treatments.treatment_id,
        dim_location.city,
        dim_location.state
    from fct_treatments
    left join dim_location
        on fct_treatments.location_key = dim_location.location_key
),

treatments_counted_per_city as (
    select
        city,
        state,
        count(*) as treatments
    from treatments_located
    group by city, state
),

cities_ranked_in_state as (
    select
        city,
        state,
        treatments,
        rank() over (
            partition by state
            order by treatments desc
        ) as city_rank_in_state
    from treatments_counted_per_city
)

select * from cities_ranked_in_state
